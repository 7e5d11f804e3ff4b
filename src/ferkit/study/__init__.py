"""Studies: several training runs from one file, evaluated alike and compared in one report."""

from ferkit.study.runner import run_study
from ferkit.study.spec import StudySpec, read_study

__all__ = ["StudySpec", "read_study", "run_study"]

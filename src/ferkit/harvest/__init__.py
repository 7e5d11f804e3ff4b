"""Harvest: labelled face datasets from videos (``ferkit harvest``).

Frames are sampled, faces detected, tracked and labelled with the same pipeline as ``ferkit analyze``; a face
is kept when the detector is sure and big enough (``min_score``, ``min_face``) and the label is clear
(``min_prob``, ``min_margin``, optionally ``stable`` over the track); faces that pass detection but not the
label rules go to ``review/``. Near-identical faces are collapsed within each track (keeping the most
confident) and across the whole dataset (perceptual hash, mirrored copies included). Splits are grouped by
video. See :mod:`ferkit.harvest.store` for the layout and how an interrupted harvest continues."""

from ferkit.harvest.harvester import harvest
from ferkit.harvest.options import HarvestOptions

__all__ = ["HarvestOptions", "harvest"]

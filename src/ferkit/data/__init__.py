"""Datasets: loaders for FER2013, CK+ and folders of class folders, splits and checks."""

from ferkit.data.ckplus import load_ckplus_folders, load_ckplus_npz
from ferkit.data.dataset import SPLITS, DatasetWarning, FaceDataset, Problem
from ferkit.data.fer2013 import load_fer2013_csv, load_fer2013_npz
from ferkit.data.folders import load_class_folders
from ferkit.data.load import data_root, find_dataset, load_dataset

__all__ = [
    "SPLITS",
    "DatasetWarning",
    "FaceDataset",
    "Problem",
    "data_root",
    "find_dataset",
    "load_ckplus_folders",
    "load_ckplus_npz",
    "load_class_folders",
    "load_dataset",
    "load_fer2013_csv",
    "load_fer2013_npz",
]

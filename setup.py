"""Installs ftrack_like_api; the metadata lives in setup.cfg."""

from setuptools import setup

setup()

"""The one thing pyproject.toml cannot say: the top-level templates/ folder installs as labreport/templates.

Every other package (labreport, its wings and their data folders) is found, not listed. Everything
else about the build is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["labreport", "labreport.*"]), "labreport.templates", "labreport.templates.lang"],
    package_dir={"labreport.templates": "templates", "labreport.templates.lang": "templates/lang"},
)

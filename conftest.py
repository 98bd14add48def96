"""The suite's hooks, options and fixtures are the resnet8-ptq plugin (ptq_helpers/plugin.py), activated by
its `pytest11` entry point when the project is installed (pip install -e .). pytester: plugin tests."""
pytest_plugins = ["pytester"]

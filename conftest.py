"""The suite's hooks and options are the resnet8-ptq plugin (ptq_helpers/pytest_plugin/), activated by its
`pytest11` entry point when the project is installed (pip install -e .); its fixtures are the top-level
fixtures/ package, loaded here. pytester: the suite's self-tests."""
pytest_plugins = ["pytester", "fixtures.session", "fixtures.data", "fixtures.models", "fixtures.speed"]

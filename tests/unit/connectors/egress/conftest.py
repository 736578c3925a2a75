import pytest

from tests.fakes.crm_server import FakeCrmServer


@pytest.fixture
def server():
    with FakeCrmServer() as s:
        yield s

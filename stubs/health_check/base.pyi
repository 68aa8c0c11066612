# What django_minio_backend and its tests use of django-health-check 4.x (health_check/base.py).
import abc
import datetime
from collections.abc import Awaitable
from concurrent.futures import Executor
from dataclasses import dataclass

from .exceptions import HealthCheckException

@dataclass
class HealthCheckResult:
    check: HealthCheck
    error: HealthCheckException | None
    time_taken: float

# A dataclass at run time, without fields of its own; `timeout` is a class attribute that subclasses override.
class HealthCheck(abc.ABC):
    timeout: datetime.timedelta
    @abc.abstractmethod
    def run(self) -> Awaitable[None] | None: ...
    def pretty_status(self) -> str: ...
    @property
    def labels(self) -> dict[str, str]: ...
    async def get_result(self, executor: Executor | None = None) -> HealthCheckResult: ...

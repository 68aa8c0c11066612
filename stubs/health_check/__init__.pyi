from .base import HealthCheck as HealthCheck

__version__: str

"""Reference department systems (library, hospital, subsidy office): clients of the 一卡通 platform
and servers of its callbacks (profiles/national/department_api.yaml). FastAPI loads only from
`.api` and `.serve`."""

from .department import CallbackRefused, Department, PlatformLink
from .kinds import DEPARTMENTS, Hospital, Library, SubsidyOffice, department_class

__all__ = ["DEPARTMENTS", "CallbackRefused", "Department", "Hospital", "Library", "PlatformLink", "SubsidyOffice",
           "department_class"]

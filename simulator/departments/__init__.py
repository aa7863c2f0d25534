"""Reference department systems (library, hospital, subsidy office): clients of the 一卡通 platform
and servers of its callbacks (profiles/national/department_api.yaml). FastAPI loads only from
`.api` and `.serve`."""

from .department import CallbackRefused, Department, PlatformLink
from .kinds import DEPARTMENTS, Hospital, Library, SubsidyOffice, department_class
from .lending import Lending, NotLending, NotOnLoan

__all__ = ["DEPARTMENTS", "CallbackRefused", "Department", "Hospital", "Lending", "Library", "NotLending", "NotOnLoan",
           "PlatformLink", "SubsidyOffice", "department_class"]

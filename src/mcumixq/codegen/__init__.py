"""C code generation: integer graph -> C project, firmware build, emulated deploy, kernel bench."""

from mcumixq.codegen.bench import CaseResult, bench_case, bench_kernels
from mcumixq.codegen.deploy import DeployResult, deploy
from mcumixq.codegen.memplan import MemoryPlan, plan_memory
from mcumixq.codegen.project import Project, generate_project

__all__ = [
    "CaseResult",
    "DeployResult",
    "MemoryPlan",
    "Project",
    "bench_case",
    "bench_kernels",
    "deploy",
    "generate_project",
    "plan_memory",
]

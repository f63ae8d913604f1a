"""HLS C++ backend: project writer, C simulation and synthesis-report reading (Vitis / Vivado HLS).

>>> prj = write_project(fw, "out/trigger", board="vu9p")     # firmware/, tb/, Makefile, project.json
>>> prj.predict(x)                                         # g++ C simulation == fw.predict(x)

Pipeline: :mod:`.plan` lowers the IR (``lower_*`` modules) to numbers and names, :mod:`.emit`
renders the jinja2 templates in ``templates/hls/``, :mod:`.writer` writes the folder and
:mod:`.project` compiles and runs the C simulation.
"""

from hgq_fpga.backends.hls.project import HLSProject, compile_projects
from hgq_fpga.backends.hls.writer import write_project

__all__ = ["HLSProject", "compile_projects", "write_project"]

# SPDX-License-Identifier: GPL-2.0
#
# Where the tests find the YNL library and the netdev family's spec. Installed
# (make -C tools/testing/selftests TARGETS=devmem install), the target's Makefile puts the
# library beside the tests as lib/, the specs as specs/ and the schemas they are checked
# against beside those; run from the source tree, they are read at their places in it.
# No environment variable is needed either way.

import os
import sys

HERE = os.path.dirname(os.path.realpath(__file__))

if os.path.isfile(os.path.join(HERE, "specs", "netdev.yaml")):
    YNL_DIR = HERE
    SPEC_DIR = os.path.join(HERE, "specs")
else:
    _top = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
    YNL_DIR = os.path.join(_top, "tools", "net", "ynl", "pyynl")
    SPEC_DIR = os.path.join(_top, "Documentation", "netlink", "specs")

SPEC = os.path.join(SPEC_DIR, "netdev.yaml")

if YNL_DIR not in sys.path:
    sys.path.insert(0, YNL_DIR)


def check():
    """Raises FileNotFoundError naming what is missing and where it was looked for."""
    for path in (SPEC, os.path.join(YNL_DIR, "lib", "ynl.py")):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found (installed tests carry it beside "
                                    f"them, in the source tree it is under {YNL_DIR})")

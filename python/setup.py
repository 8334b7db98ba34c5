"""Installs the simdnorm package and, when it can find one, a copy of the
shared library inside it (simdnorm/libsimdnorm.so.0), so that the installed
package works without the build tree or an installed prefix.

The library copied is $SIMDNORM_LIBRARY if set, else ../build/libsimdnorm.so
(the CMake build tree). Set SIMDNORM_BUNDLE=0 to install the Python code only;
the package then loads libsimdnorm from an installed prefix (cmake --install,
then ldconfig) or from $SIMDNORM_LIBRARY at run time.
"""
import os
import shutil
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED = "libsimdnorm.0.dylib" if sys.platform == "darwin" else "libsimdnorm.so.0"


def library_to_bundle():
    if os.environ.get("SIMDNORM_BUNDLE", "1") == "0":
        return None
    path = os.environ.get("SIMDNORM_LIBRARY")
    if not path:
        name = "libsimdnorm.dylib" if sys.platform == "darwin" else "libsimdnorm.so"
        path = os.path.join(HERE, os.pardir, "build", name)
    path = os.path.realpath(path)
    return path if os.path.isfile(path) else None


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        library = library_to_bundle()
        target = os.path.join(self.build_lib, "simdnorm", BUNDLED)
        if library:
            self.announce("simdnorm: bundling %s as %s" % (library, target), level=2)
            shutil.copyfile(library, target)
            os.chmod(target, 0o755)
        else:
            self.announce("simdnorm: no built library to bundle; the package will look for "
                          "libsimdnorm at run time", level=2)


cmdclass = {"build_py": BuildPyWithLibrary}

try:  # a wheel with a native library inside is platform-specific
    from wheel.bdist_wheel import bdist_wheel

    class PlatformWheel(bdist_wheel):
        def finalize_options(self):
            super().finalize_options()
            if library_to_bundle():
                self.root_is_pure = False

        def get_tag(self):
            python, abi, plat = super().get_tag()
            if library_to_bundle():
                python, abi = "py3", "none"
            return python, abi, plat

    cmdclass["bdist_wheel"] = PlatformWheel
except ImportError:
    pass

setup(cmdclass=cmdclass)

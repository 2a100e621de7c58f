"""Code a fresh interpreter runs first to behave as if torch were not installed: every import of it fails as an
absent module's does. A finder that refuses it rather than a None in sys.modules, which SciPy's array-API checks
would trip on. The serving and training tiers' "without torch" tests prepend it to their scripts."""

BLOCK_TORCH = """
import importlib.abc
import sys


class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname == "torch" or fullname.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


sys.meta_path.insert(0, NoTorch())
"""

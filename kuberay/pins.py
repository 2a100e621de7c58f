"""The versions the manifests pin, read from the installed distributions so they cannot drift from the venv."""

from __future__ import annotations

from importlib import metadata

from pydantic import BaseModel, ConfigDict, Field

PYTHON_TAG = "py311"
BASE_IMAGE_REPOSITORY = "rayproject/ray"
IMAGE_NAME = "rayship"


class Pins(BaseModel):
    """Versions baked into the rendered manifests and the Dockerfile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ray_version: str = Field(description="The Ray version rayship runs on (RayCluster `rayVersion`).")
    rayship_version: str = Field(description="rayship's own version, used as the image tag.")

    @property
    def base_image(self) -> str:
        """The `rayproject/ray` CPU image of the pinned Ray and Python (tag scheme `<ray>-py311-cpu`)."""
        return f"{BASE_IMAGE_REPOSITORY}:{self.ray_version}-{PYTHON_TAG}-cpu"

    @property
    def image_tag(self) -> str:
        """Tag of the rayship image: rayship's version and the Ray it was built on."""
        return f"{self.rayship_version}-ray{self.ray_version}"


def installed_pins() -> Pins:
    """The pins of the installed `ray` and `rayship` distributions."""
    return Pins(ray_version=metadata.version("ray"), rayship_version=metadata.version("rayship"))

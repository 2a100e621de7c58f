"""KubeRay manifests for rayship: a Kustomize base and overlays, plus the renderer that keeps them in step with
`configs/serve.yaml` and the pinned Ray version (`python -m kuberay`, `python -m kuberay --check`)."""

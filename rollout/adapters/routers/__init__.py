"""Traffic routers: how a rollout reads and writes the live Serve config (Serve REST API, KubeRay
RayService)."""

"""Traffic routers: the rollout's verbs (add a version, set routes, remove a version) over the live Serve config,
through the Serve REST API or a KubeRay RayService."""

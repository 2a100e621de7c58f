"""The rollout's edges to the cluster: traffic routers (Serve REST API, KubeRay RayService), the gateway's stats as
a metrics source, and the registry's tags and verdicts."""

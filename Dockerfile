# rayship image: the pinned Ray's CPU image plus rayship and its dependencies. One image for the RayService, the
# sweep RayJob (head, workers, submitter) and the MLflow server, so code, Ray and MLflow versions always agree.
# The FROM tag must name the installed Ray (pyproject.toml pins it): `make render` / `python -m kuberay --check`
# fail otherwise. Tag scheme: rayproject/ray:<ray version>-py311-cpu.
FROM rayproject/ray:2.60.0-py311-cpu

# Ray starts from the working directory, so job entrypoints and relative paths (configs/...) resolve here.
WORKDIR /home/ray/rayship

COPY --chown=ray:users . .

# The framework extras to install (pyproject's optional-dependencies), comma-separated. The default image serves
# and trains every framework the shipped configs use; `--build-arg RAYSHIP_EXTRAS=` builds one for scikit-learn
# and XGBoost only (without torch's ~700 MB), where a PyTorch version's deploy or sweep fails naming the missing extra.
ARG RAYSHIP_EXTRAS=torch

# torch from PyTorch's CPU index (same version, no CUDA libraries). The base image's Ray satisfies pyproject's
# pin, so pip keeps it. The import is a smoke test that the packages and their dependencies load; the manifests
# name rayship-haproxy by that path (RAY_SERVE_HAPROXY_BINARY_PATH).
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu \
        ".${RAYSHIP_EXTRAS:+[$RAYSHIP_EXTRAS]}" \
    && python -c "import ray, rayship, cluster, deployments, registry, rollout, training; print('ray', ray.__version__)" \
    && test -x /home/ray/anaconda3/bin/rayship-haproxy

# keras-electra training image for SageMaker (see docs/SAGEMAKER.md).
#
#   make docker                 # docker build -t keras-electra:latest .
#   docker build --build-arg BACKEND=jax -t keras-electra:jax .   # the JAX engine
#
# Like the AWS scripts' image: a TensorFlow GPU base, this package, and the
# SageMaker training toolkit, whose `train` command (what SageMaker runs)
# starts SAGEMAKER_PROGRAM from /opt/ml/code on every instance. The launcher
# (python -m keras_electra.sagemaker.launch) uploads the same entry point, so
# the image also works with the SageMaker SDK's source-upload mode.
FROM tensorflow/tensorflow:2.21.0-gpu

# tensorflow (MultiWorkerMirroredStrategy) or jax (jax.distributed, one process per host;
# launch with `python -m keras_electra.sagemaker.launch --backend jax --image_name ...`).
ARG BACKEND=tensorflow

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KERAS_BACKEND=${BACKEND} \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HF_HUB_OFFLINE=1

# sagemaker-training ships only as source with a small C extension, so it
# needs a compiler and the Python headers. Versions follow the base image's
# Ubuntu release; pinning them here would break on every base image update.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential python3-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/keras-electra
COPY . .
RUN if [ "${BACKEND}" = "jax" ]; then extras="sagemaker,jax-cuda"; \
    elif [ "${BACKEND}" = "tensorflow" ]; then extras="sagemaker"; \
    else echo "BACKEND must be tensorflow or jax, not ${BACKEND}" >&2; exit 1; fi \
    && pip install --no-cache-dir "/opt/keras-electra[${extras}]" "sagemaker-training==5.1.4" \
    && python -c "import keras_electra, sagemaker_training; print('keras-electra', keras_electra.__version__)"

# What SageMaker runs when the job does not upload its own entry point.
COPY keras_electra/sagemaker/entry_point.py /opt/ml/code/entry_point.py
ENV SAGEMAKER_PROGRAM=entry_point.py \
    SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/code

WORKDIR /opt/ml/code

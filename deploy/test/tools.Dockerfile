# Redis, nginx and Prometheus from Debian's packages on the local base, for
# `make image-test` (public images cannot be pulled there).
ARG BASE
FROM ${BASE}
# policy-rc.d: packages install their services without starting them in the build.
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      redis-server nginx-light prometheus >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chmod 1777 /data

// Wrapper module: pins the Gateway API release whose standard-channel CRDs the sandbox installs
// (config/crd/standard in the module; see reentry/sandbox/gateway_api.py). Nothing is built from it.
module reentry.dev/tools/gateway-api

go 1.24.0

require sigs.k8s.io/gateway-api v1.6.3

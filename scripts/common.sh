# Shared by scripts/test.sh and scripts/demo.sh.

# Debian packages the build needs; installed only when missing.
oomtrace_packages=(cmake g++ make libspdlog-dev libfmt-dev catch2 nlohmann-json3-dev libcli11-dev libbenchmark-dev python3)

install_missing_packages() {
  local missing=()
  for package in "${oomtrace_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "oomtrace: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The CUDA toolkit is needed for its headers only: CUDA_HOME, else /usr/local/cuda.
find_cuda_headers() {
  cuda_home=${CUDA_HOME:-/usr/local/cuda}
  if [ ! -f "$cuda_home/include/cuda.h" ]; then
    echo "oomtrace: CUDA headers not found at $cuda_home/include/cuda.h." >&2
    echo "oomtrace: install the CUDA toolkit (headers are enough) or set CUDA_HOME to it." >&2
    exit 1
  fi
}

# Shared by scripts/test.sh and scripts/demo.sh.

# Debian packages the build needs; installed only when missing.
oomtrace_packages=(cmake g++ make libspdlog-dev libfmt-dev catch2 nlohmann-json3-dev libcli11-dev libbenchmark-dev python3 python3-venv binutils musl-tools util-linux g++-aarch64-linux-gnu libdw-dev chromium valgrind)

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

# The PyTorch releases the test suite runs on the simulated GPU (tests/torch):
# the one the GPU machines carry (CUDA 13 wheel, driver functions through
# cudaGetDriverEntryPointByVersion) and an older one whose c10 DriverAPI
# still finds them with dlopen("libcuda.so.1", RTLD_NOLOAD) + dlsym (CUDA 12
# wheel, libcudart.so.12).
oomtrace_torch_versions=(2.11.0 2.6.0)

# Each release in its own virtual environment, cached across clones and
# keyed by version: ${OOMTRACE_CACHE:-~/.cache/oomtrace}/torch-VERSION.
torch_cache_dir() {
  echo "${OOMTRACE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/oomtrace}"
}

# A cached environment counts only when its install finished (the marker
# is written last) and its torch imports at the pinned version.
torch_venv_ready() {
  local venv=$1 version=$2
  [ -f "$venv/.oomtrace-complete" ] &&
    CUDA_VISIBLE_DEVICES="" "$venv/bin/python" -c \
      "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$version')" >/dev/null 2>&1
}

# Sets torch_pythons to the python of every release installed, reused or
# installed now. What could not be had is said in one line at the end, and
# the run carries on without it.
install_torch_venvs() {
  torch_pythons=()
  local cache version venv skipped=() reason=""
  cache=$(torch_cache_dir)
  mkdir -p "$cache"
  for version in "${oomtrace_torch_versions[@]}"; do
    venv="$cache/torch-$version"
    if ! torch_venv_ready "$venv" "$version"; then
      echo "oomtrace: installing torch $version from PyPI into $venv (once; later runs reuse it)" >&2
      rm -rf "$venv"
      if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        skipped+=("$version") reason="python3 cannot create a virtual environment (python3-venv)"
        continue
      fi
      if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$version" \
        >"$cache/pip-torch-$version.log" 2>&1; then
        skipped+=("$version") reason="PyPI unreachable or the wheel not installable (see $cache/pip-torch-$version.log)"
        continue
      fi
      touch "$venv/.oomtrace-complete"
      if ! torch_venv_ready "$venv" "$version"; then
        skipped+=("$version") reason="installed, but torch does not import"
        continue
      fi
    fi
    torch_pythons+=("$venv/bin/python")
  done
  if [ ${#skipped[@]} -gt 0 ]; then
    echo "oomtrace: skipped the scenarios under the real PyTorch for torch ${skipped[*]}: $reason" >&2
  fi
}

# Sourced by the Python-driven suites (Conformance, Kubernetes): ensure_venv VENV REQUIREMENTS
# makes VENV from the pinned REQUIREMENTS on first use, and again when they change, so that a
# checkout never runs against the packages of an older pin. Returns 2 when pip cannot install them.
ensure_venv() {
    local venv="$1" requirements="$2"
    if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/requirements.txt"; then
        rm -rf "$venv"
        "${PYTHON:-python3}" -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" || { rm -rf "$venv"; return 2; }
        cp "$requirements" "$venv/requirements.txt"
    fi
}

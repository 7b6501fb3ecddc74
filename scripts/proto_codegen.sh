#!/usr/bin/env bash
# Regenerate the checked-in Python code for the .proto files under proto/.
#
# Usage: scripts/proto_codegen.sh [OUTPUT_DIR]
#
#   OUTPUT_DIR  where to write the generated package tree (default: sv_otel/_proto in
#               this repository). Everything under OUTPUT_DIR/sessionvision is replaced.
#   PYTHON      (environment) the interpreter to run protoc and the plugins with; it must
#               have the versions pinned in scripts/codegen-requirements.txt installed,
#               plus opentelemetry-proto (default: python3).
#
# OTLP's .proto files are not vendored: protoc gets the descriptor of
# opentelemetry/proto/common/v1/common.proto from the installed opentelemetry-proto
# package (via --descriptor_set_in), and the generated code imports
# opentelemetry.proto.common.v1.common_pb2 from that package.
#
# protoc names generated modules after the proto package (`from sessionvision.v1 import
# ...`); those imports are rewritten to `from sv_otel._proto.sessionvision.v1 import ...`.
# The output is deterministic, so tests/test_proto_codegen.py can check that the
# checked-in code is up to date by regenerating it into a temporary directory.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
if [[ "$PYTHON" == */* ]]; then # a path: make it absolute, as protoc runs in proto/
    PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")"
fi
out_dir="${1:-"$repo_root/sv_otel/_proto"}"
proto_root="$repo_root/proto"
# The package the generated modules are imported from (independent of OUTPUT_DIR, so a
# regeneration into a temporary directory is byte-identical to the checked-in code).
import_prefix="sv_otel._proto"

work_dir="$(mktemp -d)"
trap 'rm -rf "$work_dir"' EXIT

# 1. Check the generator versions and write the descriptor set of OTLP's common.proto,
#    built from the installed opentelemetry-proto package.
"$PYTHON" - "$repo_root/scripts/codegen-requirements.txt" "$work_dir/otlp.binpb" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version


def check_pins(requirements_path: str) -> None:
    with open(requirements_path, encoding="utf-8") as f:
        for line in f:
            requirement = line.split("#", 1)[0].strip()
            if not requirement:
                continue
            name, _, pinned = (part.strip() for part in requirement.partition("=="))
            try:
                installed = version(name)
            except PackageNotFoundError:
                installed = "(not installed)"
            if installed != pinned:
                sys.exit(
                    f"proto_codegen: {sys.executable} has {name} {installed}, but "
                    f"{requirements_path} pins {pinned}; install it with: "
                    f"{sys.executable} -m pip install -r {requirements_path}"
                )


def write_otlp_descriptor_set(path: str) -> None:
    from google.protobuf import descriptor_pb2
    from opentelemetry.proto.common.v1 import common_pb2

    descriptor_set = descriptor_pb2.FileDescriptorSet()
    common_pb2.DESCRIPTOR.CopyToProto(descriptor_set.file.add())
    with open(path, "wb") as f:
        f.write(descriptor_set.SerializeToString(deterministic=True))


check_pins(sys.argv[1])
write_otlp_descriptor_set(sys.argv[2])
PY

# 2. protoc plugins for the mypy stubs, run by $PYTHON (whatever is on PATH).
export PROTO_CODEGEN_PYTHON="$PYTHON"
for plugin in mypy:main mypy_grpc:grpc; do
    cat >"$work_dir/protoc-gen-${plugin%%:*}" <<SH
#!/bin/sh
exec "\$PROTO_CODEGEN_PYTHON" -c "from mypy_protobuf.main import ${plugin#*:}; ${plugin#*:}()"
SH
    chmod +x "$work_dir/protoc-gen-${plugin%%:*}"
done

# 3. Generate into a scratch directory.
gen_dir="$work_dir/gen"
mkdir -p "$gen_dir"
protos=()
while IFS= read -r proto; do
    protos+=("$proto")
done < <(cd "$proto_root" && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
(
    cd "$proto_root"
    "$PYTHON" -m grpc_tools.protoc \
        -I. \
        --descriptor_set_in="$work_dir/otlp.binpb" \
        --plugin=protoc-gen-mypy="$work_dir/protoc-gen-mypy" \
        --plugin=protoc-gen-mypy_grpc="$work_dir/protoc-gen-mypy_grpc" \
        --python_out="$gen_dir" \
        --grpc_python_out="$gen_dir" \
        --mypy_out=quiet:"$gen_dir" \
        --mypy_grpc_out=quiet:"$gen_dir" \
        "${protos[@]}"
)

# 4. Make the generated modules import each other from $import_prefix (and name their
#    message classes' module accordingly), and add the empty __init__.py of every package.
"$PYTHON" - "$gen_dir" "$import_prefix" <<'PY'
import pathlib
import re
import sys

gen_dir = pathlib.Path(sys.argv[1])
prefix = sys.argv[2]
packages = sorted({p.name for p in gen_dir.iterdir() if p.is_dir()})
if not packages:
    sys.exit("proto_codegen: protoc generated nothing")
names = "|".join(re.escape(p) for p in packages)
from_import = re.compile(rf"^(\s*)from ({names})([. ])", re.MULTILINE)
bare_import = re.compile(rf"^\s*import ({names})\b", re.MULTILINE)
# The module name given to the message classes (their __module__, used by pickle).
module_name = re.compile(rf"(BuildTopDescriptorsAndMessages\(DESCRIPTOR, ')({names})\.")

(gen_dir / "__init__.py").touch()
for path in sorted(gen_dir.rglob("*")):
    if path.is_dir():
        (path / "__init__.py").touch()
    elif path.suffix in (".py", ".pyi"):
        text = path.read_text(encoding="utf-8")
        if bare_import.search(text):
            sys.exit(f"proto_codegen: cannot rewrite a bare import in {path}")
        text = from_import.sub(rf"\1from {prefix}.\2\3", text)
        text = module_name.sub(rf"\1{prefix}.\2.", text)
        path.write_text(text, encoding="utf-8")
PY

# 5. Replace the previous output (so files of deleted .proto files disappear too).
mkdir -p "$out_dir"
for package_dir in "$gen_dir"/*/; do
    package="$(basename "$package_dir")"
    rm -rf "${out_dir:?}/$package"
    cp -R "${package_dir%/}" "$out_dir/$package"
done
cp "$gen_dir/__init__.py" "$out_dir/__init__.py"

echo "proto_codegen: generated code written to $out_dir" >&2

#!/usr/bin/env bash
# Packs the dotnet-llamanas .NET tool, installs it into a throwaway local tool manifest and runs `dotnet llamanas
# doctor`, proving the packed tool loads libtorch (including the libstdc++ compat step) on this machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

dotnet pack "$root/src/LlamaNas.Tool/LlamaNas.Tool.csproj" -c Release -o "$work/feed"
cd "$work"
dotnet new tool-manifest >/dev/null
dotnet tool install dotnet-llamanas --local --add-source "$work/feed" --prerelease
dotnet llamanas doctor

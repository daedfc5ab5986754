#!/bin/sh
# Regenerates the typed server schemas and client from lexicons/ (never edit src/lexicons by hand).
# Usage: sh codegen/generate.sh [OUT_DIR]   (default src/lexicons; the codegen test writes elsewhere)
set -e
OUT="${1:-src/lexicons}"
exec npx --no-install ts-lex build --lexicons ./lexicons --out "$OUT" --clear --index-file

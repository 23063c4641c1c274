"""Validates an OpenAPI document read from stdin with openapi-spec-validator,
an implementation independent of ours. Exits non-zero with the errors.

usage: openapi_validate.py < openapi.json
"""

import json
import sys

from openapi_spec_validator import validate


def main():
    document = json.load(sys.stdin)
    validate(document)
    print(document["openapi"])


if __name__ == "__main__":
    main()

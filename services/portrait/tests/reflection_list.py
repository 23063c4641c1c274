"""What Python's official reflection client (grpcio-reflection, v1alpha) finds.

Lists the services of a server, then resolves each one's descriptor through the
same reflection service, as a client must before it can call anything. Prints
JSON on stdout: {"services": [...], "methods": {"service": ["Method", ...]}}.

usage: reflection_list.py ADDRESS
"""

import json
import sys

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def main():
    address = sys.argv[1]
    with grpc.insecure_channel(address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = sorted(database.get_services())
        pool = DescriptorPool(database)
        methods = {
            name: sorted(m.name for m in pool.FindServiceByName(name).methods)
            for name in services
        }
    json.dump({"services": services, "methods": methods}, sys.stdout)


if __name__ == "__main__":
    main()

"""An independent ingest client: grpcio, with stubs generated from proto/ at run time.

Streams N small orders in ONE SubmitOrders call (each its own small message, as a
naive client would) and prints the server's totals as JSON on stdout.

usage: stream_orders.py PROTO_DIR ADDRESS COUNT
"""

import importlib
import json
import os
import sys
import tempfile
import time


def generate_stubs(proto_dir, out_dir):
    from grpc_tools import protoc
    import grpc_tools

    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = [
        os.path.join(proto_dir, "portrait", "v1", name)
        for name in ("events.proto", "ingest.proto")
    ]
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{proto_dir}",
            f"-I{include}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            *files,
        ]
    )
    if code != 0:
        raise SystemExit(f"protoc failed with {code}")
    sys.path.insert(0, out_dir)


def orders(pb, events, count):
    # Plausible, small and all distinct: one line each, spread over the last 300 days.
    now_ms = int(time.time() * 1000)
    day_ms = 86_400_000
    for i in range(count):
        amount = 1_000 + (i * 37) % 9_000
        yield pb.SubmitOrderRequest(
            order=events.Order(
                order_id=f"py-{i}",
                customer_id=f"c{i % 5_000}",
                store_id=f"s{i % 7}",
                city="Chengdu",
                channel=events.CHANNEL_POS,
                placed_at_ms=now_ms - day_ms - (i % 300) * day_ms,
                net_amount_fen=amount,
                lines=[
                    events.OrderLine(
                        product_id=f"p{i % 40}", quantity=1, net_amount_fen=amount
                    )
                ],
            )
        )


def main():
    proto_dir, address, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    import grpc

    with tempfile.TemporaryDirectory() as out:
        generate_stubs(proto_dir, out)
        events = importlib.import_module("portrait.v1.events_pb2")
        pb = importlib.import_module("portrait.v1.ingest_pb2")
        rpc = importlib.import_module("portrait.v1.ingest_pb2_grpc")
        with grpc.insecure_channel(address) as channel:
            stub = rpc.IngestServiceStub(channel)
            started = time.monotonic()
            try:
                totals = stub.SubmitOrders(orders(pb, events, count), timeout=600)
            except grpc.RpcError as e:
                print(
                    json.dumps({"error": f"{e.code()}: {e.details()}"}), flush=True
                )
                return 1
            secs = time.monotonic() - started
            print(
                json.dumps(
                    {
                        "accepted": totals.accepted,
                        "published": totals.published,
                        "unchanged": totals.unchanged,
                        "seconds": round(secs, 2),
                    }
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

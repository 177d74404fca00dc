#!/usr/bin/env python3
"""Serve the example with the standard library's WSGI server.

    python3 serve.py [port]

Port 0 picks a free one; the first line of output says which
("listening on http://127.0.0.1:PORT/"). For development,
"python3 manage.py runserver 8000" works as well.
"""

import os
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

from shop.wsgi import application  # noqa: E402


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    with make_server("127.0.0.1", port, application, handler_class=QuietHandler) as srv:
        print("listening on http://127.0.0.1:%d/" % srv.server_port, flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    main()

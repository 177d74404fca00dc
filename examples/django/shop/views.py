import json

from django.http import JsonResponse
from django.views.decorators.http import require_GET, require_POST

import bridge

ORDER_CREATED = "com.example.orders.created"


# No CSRF middleware in this example: it is an API called by other
# programs. A site with browser forms keeps Django's CsrfViewMiddleware.
@require_POST
def orders(request):
    """Take an order and tell every subscriber (browsers, services) at once."""
    try:
        order = json.loads(request.body)
        item, qty = str(order["item"]), int(order.get("qty", 1))
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": 'want {"item": "...", "qty": n}'}, status=400)
    # ... store the order in your database here ...
    try:
        pub = bridge.publish(ORDER_CREATED, args=[{"item": item, "qty": qty}])
    except (bridge.BridgeError, OSError) as e:
        return JsonResponse({"error": str(e)}, status=502)
    return JsonResponse({"item": item, "qty": qty, "publication": pub}, status=201)


@require_GET
def add(request):
    """Call a procedure that a WAMP backend registered (examples/go)."""
    try:
        a, b = int(request.GET["a"]), int(request.GET["b"])
    except (KeyError, ValueError):
        return JsonResponse({"error": "want ?a=<int>&b=<int>"}, status=400)
    try:
        args, _ = bridge.call("com.example.add2", args=[a, b], timeout_ms=5000)
    except bridge.BridgeError as e:
        return JsonResponse({"error": e.error, "message": e.message}, status=502)
    except OSError as e:
        return JsonResponse({"error": str(e)}, status=502)
    return JsonResponse({"sum": args[0]})

import hmac
import json

from django.conf import settings
from django.http import FileResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

import bridge

from . import wamp

ORDER_CREATED = "com.example.orders.created"


# The API views are called by other programs, not by forms: no CSRF token.
# The pages below keep Django's CSRF protection.
@csrf_exempt
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


def current_user(request):
    """The logged-in user's name and record, or (None, None). With
    django.contrib.auth this is request.user."""
    name = request.session.get("user")
    user = settings.SHOP_USERS.get(name)
    return (name, user) if user else (None, None)


@require_http_methods(["GET", "POST"])
def login(request):
    error = ""
    if request.method == "POST":
        name = request.POST.get("username", "")
        user = settings.SHOP_USERS.get(name)
        given = request.POST.get("password", "").encode()
        if user and hmac.compare_digest(given, user["password"].encode()):
            request.session.cycle_key()
            request.session["user"] = name
            return redirect("/")
        error = "Wrong username or password."
    return render(request, "shop/login.html", {"error": error}, status=401 if error else 200)


@require_POST
def logout(request):
    request.session.flush()
    return redirect("/login")


@require_GET
def live(request):
    """The live page: AutobahnJS joins the router as the logged-in user."""
    name, user = current_user(request)
    if not name:
        return redirect("/login")
    return render(request, "shop/live.html", {
        "username": name,
        "wamp_url": settings.WAMP_URL,
        "wamp_realm": settings.WAMP_REALM,
    })


@never_cache
@require_GET
def wamp_token(request):
    """Issue a JWT for the logged-in user: the page's AutobahnJS sends it as
    its ticket (and fetches a new one each time it reconnects)."""
    name, user = current_user(request)
    if not name:
        return JsonResponse({"error": "log in first"}, status=401)
    token, exp = wamp.issue_token(name, user["role"], name=user["name"], email=user["email"])
    return JsonResponse({"token": token, "authid": name, "expires": exp.isoformat()})


@require_GET
def autobahn_js(request):
    """AutobahnJS for the page, from the repository's web/vendor (a real
    site serves it with its static files)."""
    return FileResponse(open(settings.AUTOBAHN_JS, "rb"), content_type="text/javascript")

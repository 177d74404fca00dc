from django.urls import path

from . import views

urlpatterns = [
    path("orders", views.orders),
    path("add", views.add),
    path("", views.live),
    path("login", views.login),
    path("logout", views.logout),
    path("wamp-token", views.wamp_token),
    path("autobahn.min.js", views.autobahn_js),
]

from django.urls import include, path

from peer.views import healthz

urlpatterns = [
    path("healthz", healthz),  # the peer's baseline: a trivial route on the same stack
    path("_allauth/", include("allauth.headless.urls")),
]

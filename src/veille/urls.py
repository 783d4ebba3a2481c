from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path

from veille.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    # The embedded desk serves its own static files; behind a reverse proxy, let it serve
    # ``veille manage collectstatic`` output instead.
    re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}),
    path("sources/", include("veille.sources.urls")),
    path("listening/", include("veille.listening.urls")),
    path("care/", include("veille.care.urls")),
    path("", include("veille.web.urls")),
]

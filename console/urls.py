from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("groups.urls")),
]

handler404 = "groups.views.not_found"
handler500 = "groups.views.server_error"

from django.contrib import admin
from django.urls import include, path

from groups import views_account

urlpatterns = [
    path("login/", views_account.login, name="login"),
    path("logout/", views_account.logout, name="logout"),
    path("account/password/", views_account.password_change, name="password_change"),
    path("account/password/done/", views_account.password_change_done, name="password_change_done"),
    path("account/token/", views_account.api_token, name="api_token"),
    # Before admin's own, which they replace.
    path("admin/login/", views_account.admin_login),
    path("admin/logout/", views_account.logout),
    path("admin/", admin.site.urls),
    path("", include("groups.urls_audit")),
    path("", include("groups.urls_alerts")),
    path("", include("groups.urls")),
]

handler403 = "groups.views.forbidden"
handler404 = "groups.views.not_found"
handler500 = "groups.views.server_error"

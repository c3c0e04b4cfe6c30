from django.urls import path

from groups import views

urlpatterns = [
    path("", views.cluster_list, name="cluster_list"),
    path("clusters/<str:cluster>/groups/", views.group_list, name="group_list"),
    # Group ids may contain slashes, so the id is a path-typed segment closed by the final slash.
    path("clusters/<str:cluster>/groups/<path:group>/", views.group_page, name="group_page"),
    path("clusters/<str:cluster>/topics/<str:topic>/", views.topic_page, name="topic_page"),
    path("api/clusters/", views.api_clusters, name="api_clusters"),
    path("api/clusters/<str:cluster>/groups/", views.api_groups, name="api_groups"),
    path("api/clusters/<str:cluster>/groups/<path:group>/", views.api_group, name="api_group"),
]

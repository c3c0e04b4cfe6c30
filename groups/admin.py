from django.contrib import admin

from groups.models import Cluster


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ["name", "bootstrap_servers", "security_protocol", "sasl_mechanism"]
    search_fields = ["name", "bootstrap_servers"]

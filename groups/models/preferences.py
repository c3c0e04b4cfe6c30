from django.conf import settings
from django.db import models


class UserPreferences(models.Model):
    """How one person wants pages shown; a user without a row has the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="preferences"
    )
    times_in_utc = models.BooleanField(
        default=False,
        help_text="Show times in UTC rather than in the browser's time zone (for people who compare with logs).",
    )

    class Meta:
        verbose_name_plural = "user preferences"

    def __str__(self) -> str:
        return f"preferences of user {self.user_id}"

    @classmethod
    def times_in_utc_for(cls, user) -> bool:
        """Whether this user (signed in or not) reads times in UTC."""
        if not user.is_authenticated:
            return False
        return cls.objects.filter(user_id=user.pk, times_in_utc=True).exists()

"""The URLs of local actors, objects and activities, built from the public URL."""

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalUrls:
    """Every URL the instance publishes, derived from its public base URL."""

    base: str

    def actor(self, username: str) -> str:
        return f"{self.base}/users/{username}"

    def key(self, username: str) -> str:
        return f"{self.actor(username)}#main-key"

    def inbox(self, username: str) -> str:
        return f"{self.actor(username)}/inbox"

    def outbox(self, username: str) -> str:
        return f"{self.actor(username)}/outbox"

    def followers(self, username: str) -> str:
        return f"{self.actor(username)}/followers"

    def following(self, username: str) -> str:
        return f"{self.actor(username)}/following"

    def profile(self, username: str) -> str:
        return f"{self.base}/@{username}"

    def status(self, username: str, status_id: int) -> str:
        return f"{self.actor(username)}/statuses/{status_id}"

    def status_page(self, username: str, status_id: int) -> str:
        return f"{self.profile(username)}/{status_id}"

    def activity(self, activity_id: int) -> str:
        return f"{self.base}/activities/{activity_id}"

    def tag(self, name: str) -> str:
        return f"{self.base}/tags/{name}"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    @property
    def instance_actor(self) -> str:
        return f"{self.base}/actor"

    @property
    def instance_key(self) -> str:
        return f"{self.instance_actor}#main-key"

    def is_local(self, url: str | None) -> bool:
        return bool(url) and (url == self.base or url.startswith(self.base + "/"))

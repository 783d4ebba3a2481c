from django.urls import path

from veille.nlp import views as nlp_views
from veille.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("stream/", views.stream, name="stream"),
    path("stream/events/", views.stream_events, name="stream_events"),
    path("search/", views.search, name="search"),
    path("posts/<int:post_id>/thread/", views.thread, name="thread"),
    path("posts/<int:post_id>/correct/", nlp_views.correct, name="correct_post"),
    path("dead-letter/", views.dead_letter, name="dead_letter"),
    path("i18n/setlang/", views.set_language, name="set_language"),
]

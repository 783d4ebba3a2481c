from django.urls import path

from veille.listening import views

app_name = "listening"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("search/", views.adhoc_search, name="adhoc_search"),
    path("share-of-voice/", views.share_of_voice, name="sov"),
    path("export/<str:table>.csv", views.export, name="export"),
    path("searches/new/", views.search_edit, name="search_new"),
    path("searches/<int:search_id>/", views.search_detail, name="search"),
    path("searches/<int:search_id>/edit/", views.search_edit, name="search_edit"),
    path("searches/<int:search_id>/delete/", views.search_delete, name="search_delete"),
    path("searches/<int:search_id>/export/<str:table>.csv", views.export, name="search_export"),
    path("searches/<int:search_id>/events/new/", views.event_new, name="event_new"),
    path("events/<int:event_id>/", views.event_detail, name="event"),
    path("events/<int:event_id>/live.json", views.event_live, name="event_live"),
    path("lists/", views.lists, name="lists"),
    path("lists/<int:list_id>/", views.list_detail, name="list"),
    path("lists/<int:list_id>/remove/", views.list_remove, name="list_remove"),
    path("lists/<int:list_id>/delete/", views.list_delete, name="list_delete"),
    path("lists/<int:list_id>/export.csv", views.list_export, name="list_export"),
    path("board/", views.board, name="board"),
    path("board/events/", views.board_events, name="board_events"),
    path("board/columns/add/", views.column_add, name="column_add"),
    path("board/columns/<int:column_id>/remove/", views.column_remove, name="column_remove"),
    path("board/columns/<int:column_id>/move/", views.column_move, name="column_move"),
    path("board/columns/<int:column_id>/read/", views.column_read, name="column_read"),
    path("posts/<int:post_id>/act/", views.post_act, name="post_act"),
    path("posts/<int:post_id>/care/", views.send_to_care, name="send_to_care"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:alert_id>/ack/", views.alert_ack, name="alert_ack"),
]

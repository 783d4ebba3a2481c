from django.urls import path

from veille.care import views

urlpatterns = [
    path("", views.queue, name="care_queue"),
    path("events/", views.queue_events, name="care_queue_events"),
    path("presence/", views.my_presence, name="care_my_presence"),
    path("notifications/read/", views.notifications_read, name="care_notifications_read"),
    path("c/<int:conversation_id>/", views.conversation, name="care_conversation"),
    path("c/<int:conversation_id>/claim/", views.claim, name="care_claim"),
    path("c/<int:conversation_id>/assign/", views.assign, name="care_assign"),
    path("c/<int:conversation_id>/status/", views.set_status, name="care_status"),
    path("c/<int:conversation_id>/change/", views.change, name="care_change"),
    path("c/<int:conversation_id>/note/", views.note, name="care_note"),
    path("c/<int:conversation_id>/reply/", views.reply, name="care_reply"),
    path("c/<int:conversation_id>/macro/", views.macro, name="care_macro"),
    path("c/<int:conversation_id>/private/", views.move_to_private, name="care_private"),
    path("c/<int:conversation_id>/presence/", views.presence_ping, name="care_presence"),
    path("c/<int:conversation_id>/canned/<int:canned_id>/", views.canned_text, name="care_canned"),
    path("approvals/", views.approvals, name="care_approvals"),
    path("replies/<int:reply_id>/approve/", views.approve, name="care_approve"),
    path("replies/<int:reply_id>/reject/", views.reject, name="care_reject"),
    path("sla/", views.sla_dashboard, name="care_sla"),
    path("sla/export.csv", views.sla_export, name="care_export"),
    path("incidents/", views.incidents, name="care_incidents"),
    path("incidents/<int:incident_id>/", views.incident, name="care_incident"),
    path("incidents/<int:incident_id>/<str:verb>/", views.incident_action, name="care_incident_action"),
]

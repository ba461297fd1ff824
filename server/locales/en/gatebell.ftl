# Every text the server writes for a person in English, the fallback for every other language.
# A language is a folder beside this one holding the same message ids with the same
# placeholders (`cargo test -p gatebell-server --test catalogs` checks both). Placeholders are
# filled with what the guard typed or the backend sent (names, purposes, units) unchanged.

## Pushes and inbox entries

walkin-title = Visitor at the gate
walkin-body = { $name } is at the gate. Approve or reject?
walkin-body-purpose = { $name } is at the gate ({ $purpose }). Approve or reject?
action-approve = Approve
action-reject = Reject
arrival-title = Visitor arrived
arrival-body = { $name } has checked in.
# How a walk-in ended, on the inbox entry and the push that replaces the question.
outcome = { $name }: { $outcome }
outcome-approved-by = Approved by { $by }
outcome-rejected-by = Rejected by { $by }
outcome-expired = Expired — no one answered
# What the notification says once Approve / Reject on it succeeded.
answered-approved = Approved — { $name } may enter
answered-rejected = Rejected

## Texts and emails (a walk-in nobody answered, an arrival)

message-walkin-subject = Visitor at the gate: { $name }
message-walkin-lead = { $name }{ $purpose } is at the gate{ $unit }, and nobody has answered yet.
message-arrival-subject = Visitor arrived: { $name }
message-arrival-lead = { $name }{ $purpose } has checked in at the gate{ $unit }.
# Joined to the leads above: " (delivery)" and " for A-101".
message-purpose = { " " }({ $purpose })
message-unit = { " " }for { $unit }
sms-prefix = Gatebell: { $lead }
sms-approve = Approve:
sms-reject = Reject:
email-greeting = Hello { $name },
email-links-note = Each link works once, until the request expires in { $minutes ->
    [one] one minute
   *[other] { $minutes } minutes
} from when it was made.
email-signature = — Gatebell

## The pages behind the links

link-open-title = Visitor at the gate
link-describe = { $name }{ $purpose } is at the gate{ $unit }.
link-approve = Approve
link-reject = Reject
link-approve-instead = Approve instead
link-reject-instead = Reject instead
link-approved-title = Approved
link-approved = { $name } may come in.
link-rejected-title = Rejected
link-rejected = { $name } will not be let in.
link-guard-told = The guard has been told.
link-answered-title = Already answered
link-already-approved = { $name } was already approved{ $by }.
link-already-rejected = { $name } was already rejected{ $by }.
link-by = { " " }by { $by }
link-expired-visit = This request has expired: no one answered in time, so { $name } was not let in.
link-used = You answered with this link already.
link-expired = This link has expired: no one answered in time.
link-unusable = This link can no longer be used.
link-choose-title = Choose approve or reject
link-choose = Open the link again and press Approve or Reject.
link-invalid-title = Link not valid
link-invalid = This link is no longer valid. Open the Gatebell app to see the visit.

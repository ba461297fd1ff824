# हिन्दी: every message id of `en/gatebell.ftl`, with the same placeholders. Kept short: a text
# in Devanagari is sent as UCS-2, 70 characters a segment.

## Pushes and inbox entries

walkin-title = गेट पर आगंतुक
walkin-body = { $name } गेट पर हैं। अनुमति दें?
walkin-body-purpose = { $name } गेट पर हैं ({ $purpose })। अनुमति दें?
action-approve = अनुमति दें
action-reject = मना करें
arrival-title = आगंतुक आ गए
arrival-body = { $name } ने चेक-इन किया।
outcome = { $name }: { $outcome }
outcome-approved-by = { $by } ने अनुमति दी
outcome-rejected-by = { $by } ने मना किया
outcome-expired = समय समाप्त — किसी ने जवाब नहीं दिया
answered-approved = अनुमति दी — { $name } अंदर आ सकते हैं
answered-rejected = मना किया

## Texts and emails

message-walkin-subject = गेट पर आगंतुक: { $name }
message-walkin-lead = { $name }{ $purpose } गेट पर हैं{ $unit }, अभी तक किसी ने जवाब नहीं दिया।
message-arrival-subject = आगंतुक आ गए: { $name }
message-arrival-lead = { $name }{ $purpose } ने गेट पर चेक-इन किया{ $unit }।
message-purpose = { " " }({ $purpose })
message-unit = { " " }({ $unit } के लिए)
sms-prefix = Gatebell: { $lead }
sms-approve = अनुमति:
sms-reject = मना:
email-greeting = नमस्ते { $name },
email-links-note = हर लिंक एक बार चलता है, अनुरोध बनने के { $minutes ->
    [one] एक मिनट
   *[other] { $minutes } मिनट
} बाद तक।
email-signature = — Gatebell

## The pages behind the links

link-open-title = गेट पर आगंतुक
link-describe = { $name }{ $purpose } गेट पर हैं{ $unit }।
link-approve = अनुमति दें
link-reject = मना करें
link-approve-instead = इसके बजाय अनुमति दें
link-reject-instead = इसके बजाय मना करें
link-approved-title = अनुमति दी
link-approved = { $name } अंदर आ सकते हैं।
link-rejected-title = मना किया
link-rejected = { $name } को अंदर नहीं आने दिया जाएगा।
link-guard-told = गार्ड को बता दिया गया है।
link-answered-title = जवाब दिया जा चुका है
link-already-approved = { $name } को पहले ही अनुमति मिल चुकी है{ $by }।
link-already-rejected = { $name } को पहले ही मना किया जा चुका है{ $by }।
link-by = { " " }({ $by } द्वारा)
link-expired-visit = यह अनुरोध समाप्त हो गया: समय पर किसी ने जवाब नहीं दिया, इसलिए { $name } को अंदर नहीं आने दिया गया।
link-used = आप इस लिंक से पहले ही जवाब दे चुके हैं।
link-expired = यह लिंक समाप्त हो गया: समय पर किसी ने जवाब नहीं दिया।
link-unusable = यह लिंक अब काम नहीं करता।
link-choose-title = अनुमति दें या मना करें
link-choose = लिंक फिर से खोलें और अनुमति दें या मना करें दबाएँ।
link-invalid-title = लिंक मान्य नहीं
link-invalid = यह लिंक अब मान्य नहीं है। आगंतुक देखने के लिए Gatebell ऐप खोलें।

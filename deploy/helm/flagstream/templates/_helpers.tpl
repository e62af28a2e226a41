{{/* Names and labels shared by every flagstream object. */}}

{{- define "flagstream.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flagstream.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "flagstream.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "flagstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* selector labels of one component: call with (dict "root" $ "component" "worker") */}}
{{- define "flagstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flagstream.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "flagstream.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{- define "flagstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "flagstream.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "flagstream.sasl" -}}
{{- hasPrefix "SASL" .Values.kafka.securityProtocol -}}
{{- end -}}

{{/* environment shared by the worker and the lag exporter: metrics port limits, credentials
     (secrets as files under /etc/flagstream/secrets), TLS files */}}
{{- define "flagstream.env" -}}
- name: FLAGSTREAM_METRICS_MAX_CONNECTIONS
  value: {{ .Values.metrics.maxConnections | quote }}
- name: FLAGSTREAM_METRICS_CONNECTION_TIMEOUT_S
  value: {{ .Values.metrics.connectionTimeoutSeconds | quote }}
{{- if eq (include "flagstream.sasl" .) "true" }}
- name: FLAGSTREAM_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.usernameKey }}
- name: FLAGSTREAM_SASL_PASSWORD_FILE
  value: /etc/flagstream/secrets/sasl/password
{{- end }}
{{- if .Values.kafka.tls.caSecret }}
- name: FLAGSTREAM_SSL_CA_FILE
  value: /etc/flagstream/secrets/kafka-ca/ca.crt
{{- end }}
{{- if .Values.kafka.tls.clientCertSecret }}
- name: FLAGSTREAM_SSL_CERT_FILE
  value: /etc/flagstream/secrets/kafka-client/tls.crt
- name: FLAGSTREAM_SSL_KEY_FILE
  value: /etc/flagstream/secrets/kafka-client/tls.key
{{- end }}
- name: FLAGSTREAM_SSL_CHECK_HOSTNAME
  value: {{ .Values.kafka.tls.checkHostname | quote }}
{{- with .Values.metrics.basicAuth.existingSecret }}
- name: FLAGSTREAM_METRICS_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.metrics.basicAuth.usernameKey }}
- name: FLAGSTREAM_METRICS_PASSWORD_FILE
  value: /etc/flagstream/secrets/metrics/password
{{- end }}
{{- if .Values.metrics.tls.existingSecret }}
- name: FLAGSTREAM_METRICS_TLS_CERT_FILE
  value: /etc/flagstream/secrets/metrics-tls/tls.crt
- name: FLAGSTREAM_METRICS_TLS_KEY_FILE
  value: /etc/flagstream/secrets/metrics-tls/tls.key
{{- end }}
{{- end -}}

{{/* a probe of the metrics port (values: an httpGet probe), over HTTPS when metrics.tls is on */}}
{{- define "flagstream.probe" -}}
{{- $probe := deepCopy .probe -}}
{{- if .root.Values.metrics.tls.existingSecret -}}
{{- $_ := set $probe.httpGet "scheme" "HTTPS" -}}
{{- end -}}
{{- toYaml $probe -}}
{{- end -}}

{{/* the secret files the env above points to */}}
{{- define "flagstream.secretMounts" -}}
{{- if eq (include "flagstream.sasl" .) "true" }}
- name: sasl
  mountPath: /etc/flagstream/secrets/sasl
  readOnly: true
{{- end }}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/flagstream/secrets/kafka-ca
  readOnly: true
{{- end }}
{{- if .Values.kafka.tls.clientCertSecret }}
- name: kafka-client
  mountPath: /etc/flagstream/secrets/kafka-client
  readOnly: true
{{- end }}
{{- if .Values.metrics.basicAuth.existingSecret }}
- name: metrics-auth
  mountPath: /etc/flagstream/secrets/metrics
  readOnly: true
{{- end }}
{{- if .Values.metrics.tls.existingSecret }}
- name: metrics-tls
  mountPath: /etc/flagstream/secrets/metrics-tls
  readOnly: true
{{- end }}
{{- end -}}

{{- define "flagstream.secretVolumes" -}}
{{- if eq (include "flagstream.sasl" .) "true" }}
- name: sasl
  secret:
    secretName: {{ .Values.kafka.sasl.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.kafka.sasl.passwordKey }}
        path: password
{{- end }}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.caSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.kafka.tls.caKey }}
        path: ca.crt
{{- end }}
{{- if .Values.kafka.tls.clientCertSecret }}
- name: kafka-client
  secret:
    secretName: {{ .Values.kafka.tls.clientCertSecret }}
    defaultMode: 0440
{{- end }}
{{- if .Values.metrics.basicAuth.existingSecret }}
- name: metrics-auth
  secret:
    secretName: {{ .Values.metrics.basicAuth.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.metrics.basicAuth.passwordKey }}
        path: password
{{- end }}
{{- if .Values.metrics.tls.existingSecret }}
- name: metrics-tls
  secret:
    secretName: {{ .Values.metrics.tls.existingSecret }}
    defaultMode: 0440
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- end }}
{{- end -}}

# The authorizer from the zip `make package` builds, protecting a method of an existing REST API
# and a route of an existing HTTP API, each calling a function that reads the verified claims
# with authorizer.claims.claims_from_event (from the layer `make layer` builds). Checked by
# tests/deployment/test_examples.py (parsed, not applied: no Terraform here).

variable "issuer" {
  type        = string
  description = "The identity provider's issuer, e.g. https://myproject.authgear.cloud"
}

variable "audience" {
  type = string
}

variable "rest_api_id" {
  type        = string
  description = "An existing aws_api_gateway_rest_api"
}

variable "rest_resource_id" {
  type        = string
  description = "The resource of that REST API to protect with GET (e.g. /whoami)"
}

variable "http_api_id" {
  type        = string
  description = "An existing aws_apigatewayv2_api (HTTP)"
}

variable "config_bucket" {
  type        = string
  description = "A bucket holding the route rules at authorizer/rules.toml (aws s3 cp rules.toml s3://BUCKET/authorizer/rules.toml)"
}

variable "package" {
  type    = string
  default = "../../dist/apigw-oidc-authorizer-0.1.0-arm64.zip"
}

variable "layer_package" {
  type    = string
  default = "../../dist/apigw-oidc-authorizer-layer-0.1.0-arm64.zip"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "authorizer" {
  name               = "oidc-authorizer"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy_attachment" "logs" {
  role       = aws_iam_role.authorizer.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

# The rules object, and nothing else: the authorizer reads it at each cold start.
data "aws_iam_policy_document" "rules" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${var.config_bucket}/authorizer/rules.toml"]
  }
}

resource "aws_iam_role_policy" "rules" {
  name   = "read-route-rules"
  role   = aws_iam_role.authorizer.id
  policy = data.aws_iam_policy_document.rules.json
}

resource "aws_lambda_function" "authorizer" {
  function_name    = "oidc-authorizer"
  role             = aws_iam_role.authorizer.arn
  filename         = var.package
  source_code_hash = filebase64sha256(var.package)
  handler          = "authorizer.app.lambda_handler"
  runtime          = "python3.13"
  architectures    = ["arm64"]
  memory_size      = 256
  timeout          = 10
  environment {
    variables = {
      JWT_ISSUER       = var.issuer
      JWT_AUDIENCE     = var.audience
      AUTHORIZER_RULES = "s3://${var.config_bucket}/authorizer/rules.toml"
      # The HTTP API below caches simple responses by route key ($context.routeKey).
      AUTHORIZER_SIMPLE_RESPONSE_CACHE = "route"
      POWERTOOLS_SERVICE_NAME          = "oidc-authorizer"
      POWERTOOLS_METRICS_NAMESPACE     = "OidcAuthorizer"
    }
  }
}

resource "aws_api_gateway_authorizer" "oidc" {
  name                             = "oidc"
  rest_api_id                      = var.rest_api_id
  type                             = "TOKEN"
  authorizer_uri                   = aws_lambda_function.authorizer.invoke_arn
  identity_source                  = "method.request.header.Authorization"
  authorizer_result_ttl_in_seconds = 300
}

resource "aws_apigatewayv2_authorizer" "oidc" {
  name                              = "oidc"
  api_id                            = var.http_api_id
  authorizer_type                   = "REQUEST"
  authorizer_uri                    = aws_lambda_function.authorizer.invoke_arn
  authorizer_payload_format_version = "2.0"
  enable_simple_responses           = true
  identity_sources                  = ["$request.header.Authorization", "$context.routeKey"]
  authorizer_result_ttl_in_seconds  = 300
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

# Each API may invoke the authorizer, and nothing else may: the permission names the API.
resource "aws_lambda_permission" "rest_api" {
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "arn:${data.aws_partition.current.partition}:execute-api:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${var.rest_api_id}/authorizers/${aws_api_gateway_authorizer.oidc.id}"
}

resource "aws_lambda_permission" "http_api" {
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "arn:${data.aws_partition.current.partition}:execute-api:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${var.http_api_id}/authorizers/${aws_apigatewayv2_authorizer.oidc.id}"
}

# --- what the authorizer protects -----------------------------------------------------------

# The downstream function: examples/whoami/app.py, with the claims reader from the layer.
data "archive_file" "whoami" {
  type        = "zip"
  source_file = "${path.module}/../whoami/app.py"
  output_path = "${path.module}/whoami.zip"
}

resource "aws_lambda_layer_version" "claims" {
  layer_name               = "oidc-authorizer"
  filename                 = var.layer_package
  source_code_hash         = filebase64sha256(var.layer_package)
  compatible_runtimes      = ["python3.13"]
  compatible_architectures = ["arm64"]
}

resource "aws_lambda_function" "whoami" {
  function_name    = "whoami"
  role             = aws_iam_role.authorizer.arn
  filename         = data.archive_file.whoami.output_path
  source_code_hash = data.archive_file.whoami.output_base64sha256
  handler          = "app.lambda_handler"
  runtime          = "python3.13"
  architectures    = ["arm64"]
  layers           = [aws_lambda_layer_version.claims.arn]
}

# REST: GET on the resource, behind the TOKEN authorizer.
resource "aws_api_gateway_method" "whoami" {
  rest_api_id   = var.rest_api_id
  resource_id   = var.rest_resource_id
  http_method   = "GET"
  authorization = "CUSTOM"
  authorizer_id = aws_api_gateway_authorizer.oidc.id
}

resource "aws_api_gateway_integration" "whoami" {
  rest_api_id             = var.rest_api_id
  resource_id             = var.rest_resource_id
  http_method             = aws_api_gateway_method.whoami.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.whoami.invoke_arn
}

# HTTP: the route GET /whoami, behind the Lambda authorizer (one route per method: a simple
# response is cached by route key).
resource "aws_apigatewayv2_integration" "whoami" {
  api_id                 = var.http_api_id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.whoami.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "whoami" {
  api_id             = var.http_api_id
  route_key          = "GET /whoami"
  target             = "integrations/${aws_apigatewayv2_integration.whoami.id}"
  authorization_type = "CUSTOM"
  authorizer_id      = aws_apigatewayv2_authorizer.oidc.id
}

resource "aws_lambda_permission" "rest_api_whoami" {
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.whoami.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "arn:${data.aws_partition.current.partition}:execute-api:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${var.rest_api_id}/*/GET/*"
}

resource "aws_lambda_permission" "http_api_whoami" {
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.whoami.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "arn:${data.aws_partition.current.partition}:execute-api:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${var.http_api_id}/*/GET/whoami"
}
